// `@continuum/example-shopping-cart`: the cart and inventory functions and their message types, exported so
// that another service can serve them.
export {
  CART,
  CART_EVENTS_EGRESS,
  CART_EVENTS_TOPIC,
  cart,
  functions,
  INVENTORY,
  inventory,
  RESERVATION_TTL_MS,
} from './functions.js';
export {
  AddToCart,
  AddToCartResult,
  CartEvent,
  Checkout,
  ClearCart,
  ItemReserved,
  ItemUnavailable,
  ReleaseItem,
  ReservationExpired,
  ReserveItem,
  RestockItem,
} from './messages.js';
