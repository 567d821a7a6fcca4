/** One thing wrong with the input: the field path the user wrote and what to do about it. */
export interface Problem {
    /** The argument path at fault, as the user wrote it, e.g. `args.app.port` or `args.sshCidrs[1]`. */
    readonly field: string;
    /** What is wrong and how to fix it, as one sentence. */
    readonly problem: string;
}

/**
 * The one error type bad input raises. Its message names every field at fault and the fix, so a user
 * reading `pulumi preview` output knows what to change without reading our source: one problem reads
 * `field: problem`, several are listed one per line.
 *
 * It is branded as Pulumi's RunError, so the Pulumi CLI prints the message alone (no stack trace), and its
 * message cannot be rewritten: when the error is raised for a value known only later (inside an `apply`),
 * the SDK prefixes `error serializing property "x": ` once per level of nesting; here it stays one clean text.
 */
export class ValidationError extends Error {
    /** The first (or only) field at fault. */
    readonly field: string;
    /** What is wrong with `field` and how to fix it. */
    readonly problem: string;
    /** Every problem found, in the order found (at least one). */
    readonly problems: readonly Problem[];

    constructor(field: string, problem: string);
    constructor(problems: readonly Problem[]);
    constructor(fieldOrProblems: string | readonly Problem[], problem?: string) {
        const problems: readonly Problem[] = typeof fieldOrProblems === "string" ? [{ field: fieldOrProblems, problem: problem ?? "" }] : fieldOrProblems;
        if (problems.length === 0) throw new Error("ValidationError needs at least one problem");
        const message =
            problems.length === 1
                ? `${problems[0].field}: ${problems[0].problem}`
                : `${problems.length} problems in the arguments:\n${problems.map((p) => `  - ${p.field}: ${p.problem}`).join("\n")}`;
        super(message);
        this.name = "ValidationError";
        this.field = problems[0].field;
        this.problem = problems[0].problem;
        this.problems = problems;
        // The SDK's serializer assigns `err.message = "error serializing property ..." + err.message` on every
        // level an Output passes through; an accessor that ignores writes keeps the user's one clean message.
        Object.defineProperty(this, "message", { get: () => message, set: () => undefined, enumerable: false, configurable: true });
        // Pulumi's RunError brand (the SDK checks this field, so it works across SDK copies): printed without a stack.
        Object.defineProperty(this, "__pulumiRunError", { value: true, enumerable: false });
    }
}
