/**
 * Base64 that accepts exactly one spelling per byte string. Node's decoder
 * ignores characters outside the alphabet, missing or extra padding, and
 * the unused low bits of the last character, so many texts decode to the
 * same bytes: a byte changed in a stored signature or encrypted frame would
 * then pass verification unnoticed. Only the canonical encoding of the
 * decoded bytes is accepted.
 */
export function decodeStrictBase64(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}
