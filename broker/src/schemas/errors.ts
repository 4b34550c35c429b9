/**
 * A refusal of the schema registry, with the Confluent Schema Registry's error code
 * (`40401` subject not found, `42201` invalid schema, ...) and the HTTP status it travels
 * with, so existing Confluent clients read it as they would from Confluent's registry.
 * spec/schemas.md §Errors.
 */
export class SchemaRegistryError extends Error {
  constructor(
    /** Confluent's five-digit error code; its first three digits are the HTTP status. */
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'SchemaRegistryError';
  }

  get status(): number {
    return Math.floor(this.errorCode / 100);
  }

  toJSON(): { error_code: number; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}

/** Confluent's codes used here (each with its meaning in spec/schemas.md §Errors). */
export const SchemaErrorCode = {
  SUBJECT_NOT_FOUND: 40401,
  VERSION_NOT_FOUND: 40402,
  SCHEMA_NOT_FOUND: 40403,
  SUBJECT_SOFT_DELETED: 40404,
  SUBJECT_NOT_SOFT_DELETED: 40405,
  SCHEMA_VERSION_SOFT_DELETED: 40406,
  SCHEMA_VERSION_NOT_SOFT_DELETED: 40407,
  SUBJECT_CONFIG_NOT_FOUND: 40408,
  INCOMPATIBLE_SCHEMA: 40901,
  INVALID_SCHEMA: 42201,
  INVALID_VERSION: 42202,
  INVALID_COMPATIBILITY_LEVEL: 42203,
} as const;
