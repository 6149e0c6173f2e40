// Remembers, per function type, the states the function declared during negotiation (spec §2.3).
// Lives in memory per process like StateFun's: after a restart the first call per type
// negotiates again, which brings back access to the stored values.
import type { ExpirationSpec, PersistedValueSpec } from '@continuum/sdk/protocol';
import { ExpireMode } from '@continuum/sdk/protocol';

export interface RegisteredState {
  name: string;
  typename: string;
  expireMode: ExpireMode;
  expireAfterMs: number;
}

/** StateFun maps an empty state type to this name. */
export const UNSET_TYPENAME = 'io.statefun.types/unset';

export class StateRegistry {
  private readonly byType = new Map<string, Map<string, RegisteredState>>();

  constructor(private readonly maxStatesPerType = 1024) {}

  states(functionType: string): ReadonlyMap<string, RegisteredState> {
    return this.byType.get(functionType) ?? new Map<string, RegisteredState>();
  }

  /**
   * Registers specs that are new; for names already registered only checks the type.
   * Returns the conflicts (type changes), which the caller treats as a failed invocation.
   */
  register(functionType: string, specs: readonly PersistedValueSpec[]): string[] {
    let states = this.byType.get(functionType);
    if (states === undefined) {
      states = new Map();
      this.byType.set(functionType, states);
    }
    const conflicts: string[] = [];
    for (const spec of specs) {
      const typename = spec.typeTypename === '' ? UNSET_TYPENAME : spec.typeTypename;
      const existing = states.get(spec.stateName);
      if (existing !== undefined) {
        if (existing.typename !== typename) {
          conflicts.push(
            `state "${spec.stateName}" of ${functionType} is registered with type ${existing.typename}, ` +
              `but the function now declares ${typename}; changing a state's type is not supported`,
          );
        }
        continue;
      }
      if (states.size >= this.maxStatesPerType) {
        conflicts.push(`${functionType} declares more than ${this.maxStatesPerType} states`);
        continue;
      }
      states.set(spec.stateName, { name: spec.stateName, typename, ...expiration(spec.expirationSpec) });
    }
    return conflicts;
  }
}

function expiration(spec: ExpirationSpec | undefined): { expireMode: ExpireMode; expireAfterMs: number } {
  if (spec === undefined || spec.mode === ExpireMode.NONE || spec.expireAfterMillis <= 0) {
    return { expireMode: ExpireMode.NONE, expireAfterMs: 0 };
  }
  return { expireMode: spec.mode, expireAfterMs: spec.expireAfterMillis };
}
