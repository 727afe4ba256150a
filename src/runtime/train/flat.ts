/** Float32 vectors laid end to end in one new array, with `extra` zeroed floats after them. */
export function concatFloat32(parts: readonly Float32Array[], extra = 0): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, extra));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
