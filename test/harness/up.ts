import * as pulumi from "@pulumi/pulumi";
import { RecordingMocks } from "./mocks";
import { failingLikeTheEngine, localTargetAct } from "./localActing";
import { readProject, runProgram, setStackConfig } from "./program";

/**
 * `pulumi up` of a project's program under a stand-in for the Pulumi engine that performs the real
 * actions of the local target. `settings` are `key=value` config overrides. Returns the stack outputs.
 */
export async function upProject(projectFile: string, settings: string[] = []): Promise<Record<string, any>> {
    const project = readProject(projectFile);
    const values: Record<string, string> = {};
    for (const s of settings) {
        const i = s.indexOf("=");
        if (i < 1) throw new Error(`config override "${s}" is not key=value`);
        values[s.slice(0, i)] = s.slice(i + 1);
    }
    const { act, failures } = failingLikeTheEngine(localTargetAct());
    const mocks = new RecordingMocks(act);
    await pulumi.runtime.setMocks(mocks, project.name, "dev", false);
    setStackConfig(project, values);
    const failed = new Promise<never>((_, reject) => {
        const timer = setInterval(() => {
            if (failures.length) {
                clearInterval(timer);
                reject(failures[0]);
            }
        }, 200);
        timer.unref();
    });
    return Promise.race([runProgram(project.programDir), failed]);
}
