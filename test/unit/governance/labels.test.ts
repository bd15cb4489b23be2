import { describe, expect, it } from 'vitest';
import { ancestorUris, LabelStore } from '../../../src/governance/labels.js';

describe('labels', () => {
  it('lists the ancestors of a URI, nearest first', () => {
    expect(ancestorUris('s3://b/a/x.csv')).toEqual(['s3://b/a/', 's3://b/']);
    expect(ancestorUris('file:///data/hr/')).toEqual(['file:///data/', 'file:///']);
  });

  it('keeps labels in the state database; the nearest label wins', () => {
    const store = new LabelStore(':memory:');
    expect(store.labelFor('file:///data/hr/pay.csv')).toBeUndefined();
    expect(store.set('file:///data/hr/', 'restricted', 'alice')).toBeUndefined();
    store.set('file:///data/hr/handbook.pdf', 'internal', 'bob');
    expect(store.labelFor('file:///data/hr/2024/pay.csv')).toMatchObject({ uri: 'file:///data/hr/', level: 'restricted', setBy: 'alice' });
    expect(store.labelFor('file:///data/hr/handbook.pdf')?.level).toBe('internal');
    expect(store.labelFor('file:///data/hrx/a')).toBeUndefined();
    expect(store.set('file:///data/hr/', 'confidential', 'carol')?.level).toBe('restricted');
    expect(store.labelFor('file:///data/hr/x')?.level).toBe('confidential');
    expect(store.list('file:///data/hr/').map((l) => l.uri)).toEqual(['file:///data/hr/', 'file:///data/hr/handbook.pdf']);
    expect(store.unset('file:///data/hr/')?.level).toBe('confidential');
    expect(store.labelFor('file:///data/hr/x')).toBeUndefined();
    store.close();
  });
});
