import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DESCRIPTOR_PATH, renderDescriptorModule } from '../../scripts/generate-descriptor.mjs';

describe('the checked-in protobuf descriptor', () => {
  it('is what sdk/scripts/generate-descriptor.mjs produces from sdk/proto (run `npm run generate -w @continuum/sdk`)', () => {
    expect(readFileSync(DESCRIPTOR_PATH, 'utf8')).toBe(renderDescriptorModule());
  });
});
