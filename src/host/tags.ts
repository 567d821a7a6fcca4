import { ValidationError } from "../errors";

/**
 * Merges the `Name` tag with the user's tags into one object whose keys are in sorted order, so the
 * same tags always serialise the same way. A user `Name` wins: it is what the console shows.
 */
export function mergeTags(name: string, userTags: Record<string, string> = {}, field = "args.tags"): Record<string, string> {
    const merged: Record<string, string> = { Name: name, ...userTags };
    for (const [k, v] of Object.entries(merged)) {
        if (k.toLowerCase().startsWith("aws:")) {
            throw new ValidationError(`${field}.${k}`, `tag keys starting with "aws:" are reserved by AWS; rename the tag.`);
        }
        if (typeof v !== "string") {
            throw new ValidationError(`${field}.${k}`, `tag values must be strings; got ${JSON.stringify(v)}.`);
        }
    }
    return Object.fromEntries(Object.keys(merged).sort().map((k) => [k, merged[k]]));
}
