/**
 * A small JSON Schema (draft-06) checker covering what speedscope's schema uses: $ref into definitions,
 * type, enum, properties, required, items, anyOf. Returns the list of violations (empty = valid).
 */
type Schema = Record<string, unknown>;

function typeOk(v: unknown, t: string): boolean {
  switch (t) {
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return Number.isInteger(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'null':
      return v === null;
    default:
      throw new Error(`schema type ${t} not supported by this checker`);
  }
}

const KNOWN = new Set([
  '$schema',
  '$ref',
  'definitions',
  'title',
  'type',
  'enum',
  'properties',
  'required',
  'items',
  'anyOf',
]);

/** Validate `value` against `schema` (with `root` holding the definitions). */
export function validate(value: unknown, schema: Schema, root: Schema = schema, path = '$'): string[] {
  for (const k of Object.keys(schema))
    if (!KNOWN.has(k)) throw new Error(`schema keyword ${k} not supported`);
  if (typeof schema.$ref === 'string') {
    const ref = schema.$ref;
    if (!ref.startsWith('#/')) throw new Error(`only local $ref supported, got ${ref}`);
    let target: unknown = root;
    for (const part of ref.slice(2).split('/')) target = (target as Schema)[part];
    if (!target) throw new Error(`unresolved $ref ${ref}`);
    return validate(value, target as Schema, root, path);
  }
  const errors: string[] = [];
  if (typeof schema.type === 'string' && !typeOk(value, schema.type)) {
    return [`${path}: expected ${schema.type}, got ${JSON.stringify(value)?.slice(0, 40)}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    errors.push(`${path}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  if (Array.isArray(schema.anyOf)) {
    const ok = schema.anyOf.some((s) => validate(value, s as Schema, root, path).length === 0);
    if (!ok) errors.push(`${path}: matches none of anyOf`);
  }
  if (typeOk(value, 'object')) {
    const obj = value as Record<string, unknown>;
    if (Array.isArray(schema.required))
      for (const k of schema.required as string[]) if (!(k in obj)) errors.push(`${path}: missing ${k}`);
    if (schema.properties)
      for (const [k, s] of Object.entries(schema.properties as Record<string, Schema>))
        if (k in obj) errors.push(...validate(obj[k], s, root, `${path}.${k}`));
  }
  if (Array.isArray(value) && schema.items)
    value.forEach((v, i) => {
      errors.push(...validate(v, schema.items as Schema, root, `${path}[${i}]`));
    });
  return errors;
}
