// Quoting for POSIX shells: the one home of it. Every shell text this package renders (release scripts'
// parameters, the Dockerfile's RUN lines, the local target's secret file) quotes its words here.

/**
 * Quotes a word for a POSIX shell: single quotes, with embedded single quotes closed and escaped. The
 * shell reads back exactly `word`, whatever it holds (NUL aside, which no shell word can carry).
 */
export function shellQuote(word: string): string {
    return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Characters every POSIX shell reads as themselves outside quotes, in any position. */
const BARE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * A word for a POSIX shell, left bare when it needs no quotes (so rendered text such as a Dockerfile
 * stays readable) and {@link shellQuote}d otherwise.
 */
export function shellWord(word: string): string {
    return BARE_WORD.test(word) ? word : shellQuote(word);
}
