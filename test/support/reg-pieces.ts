// A .reg file's bytes read in pieces, and what reading it whole gives, for the tests that hold the
// streaming reader to the whole-file one.
import { decodeTextFile, parseRegExport } from '../../src/snapshot/reg-export';

/** The file's bytes in pieces of `size`. */
export function pieces(bytes: Uint8Array, size: number): () => AsyncIterable<Uint8Array> {
  return async function* () {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  };
}

/** What reading the whole file gives: the parse and whether it was ANSI, or the error's class and message. */
export function whole(bytes: Uint8Array, codePage?: number): unknown {
  try {
    const decoded = decodeTextFile(bytes, codePage);
    return { parsed: parseRegExport(decoded.text, codePage), ansi: decoded.ansi };
  } catch (e) {
    return `${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
}
