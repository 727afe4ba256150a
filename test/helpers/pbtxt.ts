/**
 * A parser for the subset of protobuf text format the Triton emitter writes: `# comments`,
 * `key: scalar`, `key: [ scalars ]`, `key { message }` and `key [ { message }, … ]`.
 */
export type PbValue = string | number | PbMessage | PbValue[];
export interface PbMessage {
  [key: string]: PbValue;
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /\s+|#[^\n]*|("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|([{}[\]:,])|(.)/gy;
  for (const m of text.matchAll(re)) {
    if (m[6] !== undefined) throw new Error(`unexpected character ${JSON.stringify(m[6])} at ${m.index}`);
    const t = m[1] ?? m[2] ?? m[3] ?? m[4];
    if (t !== undefined) tokens.push(t);
  }
  return tokens;
}

export function parsePbtxt(text: string): PbMessage {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const take = (expected?: string) => {
    const t = tokens[i++];
    if (t === undefined || (expected !== undefined && t !== expected)) throw new Error(`expected ${expected ?? "a token"}, got ${t} at token ${i - 1}`);
    return t;
  };
  const value = (): PbValue => {
    const t = take();
    if (t === "{") return message("}");
    if (t === "[") {
      const list: PbValue[] = [];
      while (peek() !== "]") {
        list.push(value());
        if (peek() === ",") take(",");
      }
      take("]");
      return list;
    }
    if (t.startsWith('"')) return JSON.parse(t) as string;
    if (/^-?\d/.test(t)) return Number(t);
    if (/^[A-Za-z_]/.test(t)) return t;
    throw new Error(`unexpected ${t}`);
  };
  const message = (end: string | undefined): PbMessage => {
    const m: PbMessage = {};
    while (peek() !== end) {
      const key = take();
      if (!/^[A-Za-z_]/.test(key)) throw new Error(`expected a field name, got ${key}`);
      if (peek() === ":") take(":");
      else if (peek() !== "{" && peek() !== "[") throw new Error(`field ${key} has no value`);
      if (key in m) throw new Error(`field ${key} given twice`);
      m[key] = value();
    }
    if (end !== undefined) take(end);
    return m;
  };
  return message(undefined);
}
