import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as command from "@pulumi/command";
import { ActingEngine } from "../harness/acting-engine";

// The acting stand-in for the Pulumi engine that the systemd e2e tests rely on, checked with real
// local shell commands: create on first sight, nothing when unchanged, update on change, delete when gone.
let dir: string;
let log: string;
beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "acting-engine-"));
    log = path.join(dir, "log");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const program = (version: string) => () =>
    new command.local.Command("marker", {
        create: `echo create ${version} >> ${log}`,
        update: `echo update ${version} >> ${log}`,
        delete: `echo delete >> ${log}`,
    });
const lines = () => fs.readFileSync(log, "utf8").trim().split("\n");

test("create, no-op, update, delete across program runs (Pulumi engine stood in for)", async () => {
    const engine = new ActingEngine();
    await engine.up(program("1"));
    await engine.up(program("1"));
    expect(lines()).toEqual(["create 1"]);
    await engine.up(program("2"));
    expect(lines()).toEqual(["create 1", "update 2"]);
    await engine.up(() => undefined);
    expect(lines()).toEqual(["create 1", "update 2", "delete"]);
    expect(engine.actions.map((a) => a.op)).toEqual(["create", "update", "delete"]);
});

test("destroy deletes what is left; a failed action fails the run with stderr and keeps the old state", async () => {
    const engine = new ActingEngine();
    await engine.up(program("1"));
    await expect(
        engine.up(() => new command.local.Command("marker", { create: "true", update: "echo broken >&2; exit 3", delete: `echo delete >> ${log}` })),
    ).rejects.toThrow(/update of marker failed \(exit 3\)[\s\S]*broken/);
    // The failed update left the old inputs in state: the same program again changes nothing.
    await engine.up(program("1"));
    expect(lines()).toEqual(["create 1"]);
    await engine.destroy();
    expect(lines()).toEqual(["create 1", "delete"]);
});
