import { memoryMaxFor, renderUnit, UnitSpec } from "../../../../src/release/systemd/unit";
import { loadUnit, verifyUnit } from "../../consumers";

const spec: UnitSpec = { app: "hello", executable: "hello", type: "notify", port: 8080, environment: {}, environmentFile: false };

describe("the unit's MemoryMax follows the executable's SBCL heap (issue 13)", () => {
    test("a little above the heap: a quarter more, at least 256 MB", () => {
        expect(memoryMaxFor(576)).toBe(832);
        expect(memoryMaxFor(1024)).toBe(1280);
        expect(memoryMaxFor(5952)).toBe(7440);
    });

    test("with a heap size, MemoryMax= and no swap; without one, neither", () => {
        const unit = renderUnit({ ...spec, dynamicSpaceSizeMb: 1024 });
        expect(unit).toContain("\nMemoryMax=1280M\nMemorySwapMax=0\n");
        const plain = renderUnit(spec);
        expect(plain).not.toContain("MemoryMax=");
        expect(plain).not.toContain("MemorySwapMax=");
        expect(() => renderUnit({ ...spec, dynamicSpaceSizeMb: 1.5 })).toThrow(/^dynamicSpaceSizeMb: /);
    });

    test("systemd's own loader reads the limit as 1280 MiB, without a warning", () => {
        const unit = renderUnit({ ...spec, dynamicSpaceSizeMb: 1024 });
        const loaded = loadUnit("hello.service", unit);
        expect(loaded.warnings).toEqual([]);
        expect(verifyUnit("hello.service", unit)).not.toMatch(/MemoryMax|MemorySwapMax/);
    });
});
