import { ValidationError } from "../../src/errors";

test("a ValidationError names the field first, then the fix", () => {
    const e = new ValidationError("args.port", "must be between 1 and 65535; got 70000.");
    expect(e.message).toBe("args.port: must be between 1 and 65535; got 70000.");
    expect(e.field).toBe("args.port");
    expect(e).toBeInstanceOf(Error);
});
