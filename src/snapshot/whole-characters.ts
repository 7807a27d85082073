// Half of a UTF-16 surrogate pair is text no UTF-8 can hold: a JSON answer can carry it only as a
// bare \ud800 escape, which strict readers (.NET's System.Text.Json) refuse for the whole page
// and others (PowerShell's ConvertFrom-Json) silently turn into U+FFFD. One check for every text the
// service takes in: a snapshot's strings (schema.ts) and what people write into records (src/app).

/**
 * Whether `text` is whole characters (no half of a surrogate pair). Native, so every post can
 * afford it on every string: about a tenth of a /\p{Cs}/u test on text beyond Latin-1 (a Japanese
 * log tail), and no reading at all of text V8 holds one byte a character (Latin-1, most of it).
 */
export const wholeCharacters = (text: string): boolean => text.isWellFormed();
