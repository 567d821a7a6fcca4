import { ActingEngine } from "./acting-engine";
import { readProject, runProgram, setStackConfig } from "./program";

/**
 * `pulumi up` of a project's program under the acting stand-in for the Pulumi engine (real docker build,
 * docker run, local and remote commands). `settings` are `key=value` config overrides; `engine` keeps
 * state between runs (a fresh one, like a new stack, by default). Returns the stack outputs.
 */
export async function upProject(projectFile: string, settings: string[] = [], engine?: ActingEngine): Promise<Record<string, any>> {
    const project = readProject(projectFile);
    const values: Record<string, string> = {};
    for (const s of settings) {
        const i = s.indexOf("=");
        if (i < 1) throw new Error(`config override "${s}" is not key=value`);
        values[s.slice(0, i)] = s.slice(i + 1);
    }
    const acting = engine ?? new ActingEngine(project.name, "dev");
    return acting.up(() => {
        setStackConfig(project, values);
        return runProgram(project.programDir);
    });
}
