/**
 * WGSL choosing between a tile's two load forms with one uniform branch: the
 * unchecked loads when rows `base .. base + rows` all lie below `limit` (every
 * streamed tile but the last), the bounds-checked ones otherwise. The matmul
 * kernels gained 20-30 % on the H100 from the same split (tensor's
 * `tileLoadsWgsl`), the attention kernels 3-8 %.
 */
export const rowTileLoads = (
  base: string,
  rows: number,
  limit: string,
  unchecked: string,
  checked: string,
): string => `if (${base} + ${rows}u <= ${limit}) {
    ${unchecked}
    } else {
    ${checked}
    }`;
