/**
 * A value being filled in: optional fields are added one by one where this
 * runs on every request, instead of spread in (`{ ...(x ? { x } : {}) }`
 * allocates an object per field and gives each combination a new shape).
 */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };
