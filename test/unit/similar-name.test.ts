import { describe, expect, it } from 'vitest';
import { editDistance, similarName } from '../../src/core/similar-name.js';

describe('similarName', () => {
  it('measures edits', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });

  it('finds a slip, ignoring case, and nothing for an unrelated name', () => {
    expect(similarName('patiend_id', ['id', 'patient_id', 'name'])).toBe('patient_id');
    expect(similarName('Patient_ID', ['patient_id'])).toBe('patient_id');
    expect(similarName('snn', ['name', 'ssn', 'dob'])).toBe('ssn');
    expect(similarName('ward', ['patient_id', 'dob'])).toBeNull();
    expect(similarName('x', [])).toBeNull();
  });
});
