// Half of a UTF-16 surrogate pair is text no UTF-8 can hold: a JSON answer can carry it only as a
// bare \ud800 escape, which strict readers (.NET's System.Text.Json, so PowerShell 7 and Power BI)
// refuse for the whole page and others silently turn into U+FFFD. One check for every text the
// service takes in: a snapshot's strings (schema.ts) and what people write into records (src/app).

/** A lone surrogate: with the u flag a whole pair is one character, so only a half matches. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Whether `text` is whole characters (no half of a surrogate pair). */
export const wholeCharacters = (text: string): boolean => !LONE_SURROGATE.test(text);
