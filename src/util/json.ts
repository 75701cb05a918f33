/** JSON with typed arrays (test predictions, labels) written as plain arrays, which JSON.stringify would make objects. */
export function jsonWithArrays(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v instanceof Float32Array || v instanceof Uint8Array ? Array.from(v) : v), 2);
}
