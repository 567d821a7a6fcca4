/**
 * The one error type bad input raises at preview time. Its message always names the field and the fix,
 * so a user reading `pulumi preview` output knows what to change without reading our source.
 */
export class ValidationError extends Error {
    constructor(
        /** The argument path at fault, e.g. `args.sshCidrs[1]`. */
        readonly field: string,
        /** What is wrong and how to fix it, as one sentence. */
        readonly problem: string,
    ) {
        super(`${field}: ${problem}`);
        this.name = "ValidationError";
    }
}
