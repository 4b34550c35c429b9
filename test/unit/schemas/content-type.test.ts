import { expect } from 'chai';
import { isJsonContentType } from '@switchyard/broker/internal';

describe('schemas: which content types an unframed message on a JSON subject may declare', () => {
  it('reads none, application/json and application/*+json as JSON, parameters and case ignored', () => {
    for (const ct of [
      undefined,
      '',
      'application/json',
      'Application/JSON',
      'application/json; charset=utf-8',
      ' application/json ;charset="UTF-8"',
      'application/vnd.schemaregistry.v1+json',
      'application/ld+json',
      'application/problem+json',
    ])
      expect(isJsonContentType(ct), String(ct)).to.equal(true);
  });

  it('refuses every other media type', () => {
    for (const ct of [
      'text/plain',
      'text/json',
      'application/octet-stream',
      'application/avro',
      'application/jsonx',
      'application/json-seq',
      'application/+json',
      'application/x json',
      'json',
      'application/xml; profile=json',
      'multipart/mixed+json',
    ])
      expect(isJsonContentType(ct), ct).to.equal(false);
  });
});
