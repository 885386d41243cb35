/**
 * The bytes of one append: event lines encoded to UTF-8 once, straight into
 * a growing buffer.
 *
 * Building each line as a string and then joining and encoding the batch
 * copied every event three more times (flatten the line, join, encode), and
 * hashing a string encoded it once more. Here each event's two halves (the
 * canonical members before and after `hash`) are encoded once into a scratch
 * buffer as `{head,tail}`, which is exactly canonicalJson(event without
 * hash); that is hashed, and the stored line is copied out around the hash
 * member. Measured in bench/store (see RESULTS.md).
 *
 * UTF-8 encoding here is Buffer#write's, the same encoder Buffer.from and
 * the string form of crypto.hash use, so lone surrogates become U+FFFD in
 * both the hashed and the stored bytes, as before.
 */
import { sha256Hex } from './sha256.js';

const LBRACE = 0x7b;
const RBRACE = 0x7d;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
/** `"hash":"` + 64 hex digits + `"`. */
const HASH_MEMBER_BYTES = 8 + 64 + 1;

const INITIAL_BYTES = 64 * 1024;
/** A buffer grown past this by one large append is dropped afterwards, so one burst does not pin its size. */
const KEEP_BYTES = 4 * 1024 * 1024;

let scratch = Buffer.allocUnsafe(INITIAL_BYTES);

/**
 * Bytes to reserve for `s` in UTF-8: at most 3 per UTF-16 code unit, which
 * is cheap to compute; a long string is measured instead, so that one huge
 * row does not reserve three times its size.
 */
function utf8Room(s: string): number {
  return s.length < 65_536 ? 3 * s.length : Buffer.byteLength(s, 'utf8');
}

/** One per chain, reused for every append: `reset`, append lines, take `bytes`. */
export class LineBatch {
  #buf: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  #len = 0;

  reset(): void {
    if (this.#buf.length > KEEP_BYTES) this.#buf = Buffer.allocUnsafe(INITIAL_BYTES);
    if (scratch.length > KEEP_BYTES) scratch = Buffer.allocUnsafe(INITIAL_BYTES);
    this.#len = 0;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(grown, 0, 0, this.#len);
    this.#buf = grown;
  }

  /**
   * Appends the event line `{head,"hash":"H",tail}` plus a newline, where H is
   * the SHA-256 of `{head,tail}`; returns H. `head` and `tail` are the
   * canonical top-level members sorting before and after `hash`, joined by
   * commas (either may be empty).
   */
  appendEvent(head: string, tail: string): string {
    const room = utf8Room(head) + utf8Room(tail) + 3;
    if (scratch.length < room) scratch = Buffer.allocUnsafe(room * 2);
    scratch[0] = LBRACE;
    const headEnd = 1 + scratch.write(head, 1, 'utf8');
    const both = head !== '' && tail !== '';
    const tailStart = both ? headEnd + 1 : headEnd;
    if (both) scratch[headEnd] = COMMA;
    const tailEnd = tailStart + scratch.write(tail, tailStart, 'utf8');
    scratch[tailEnd] = RBRACE;
    const hash = sha256Hex(scratch.subarray(0, tailEnd + 1));

    this.#reserve(tailEnd + 1 + HASH_MEMBER_BYTES + 3);
    const b = this.#buf;
    let o = this.#len + scratch.copy(b, this.#len, 0, headEnd);
    if (head !== '') b[o++] = COMMA;
    o += b.write(`"hash":"${hash}"`, o, 'latin1');
    if (tail !== '') b[o++] = COMMA;
    o += scratch.copy(b, o, tailStart, tailEnd + 1);
    b[o++] = NEWLINE;
    this.#len = o;
    return hash;
  }

  /** Appends one line of text (a record, or an encrypted frame) plus a newline. */
  appendLine(text: string): void {
    this.#reserve(utf8Room(text) + 1);
    const o = this.#len + this.#buf.write(text, this.#len, 'utf8');
    this.#buf[o] = NEWLINE;
    this.#len = o + 1;
  }

  get byteLength(): number {
    return this.#len;
  }

  /** The batch's bytes, copied to a buffer of exactly their size (the builder's buffer is reused). */
  bytes(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#len));
  }
}
