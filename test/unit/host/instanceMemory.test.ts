import { defaultDynamicSpaceSizeMb, instanceMemoryMiB } from "../../../src/host/instanceMemory";
import { DYNAMIC_SPACE_SIZE_LIMITS_MB } from "../../../src/image/dockerfile";
import { memoryMaxFor } from "../../../src/release/systemd/unit";

describe("instanceMemoryMiB: an EC2 instance type's memory from its name", () => {
    test.each([
        // Burstable: the same table for every t generation (AWS's published sizes).
        ["t2.micro", 1024],
        ["t3.nano", 512],
        ["t3.small", 2048],
        ["t3a.medium", 4096],
        ["t4g.large", 8192],
        ["t3.2xlarge", 32768],
        // Fixed ratio per vCPU: m 4 GiB, c 2 GiB, r 8 GiB; medium = 1 vCPU (Graviton only).
        ["m5.large", 8192],
        ["m6i.xlarge", 16384],
        ["m7g.medium", 4096],
        ["c6g.large", 4096],
        ["c7i.4xlarge", 32768],
        ["r6i.large", 16384],
        ["r7g.2xlarge", 65536],
        ["m5d.24xlarge", 393216],
    ])("%s has %i MiB", (type, mib) => {
        expect(instanceMemoryMiB(type)).toBe(mib);
    });

    test.each(["", "t3", "t3.mega", "m5.medium", "m5.metal", "c5n.large", "x2idn.16xlarge", "m4.large", "u-6tb1.metal", "M5.LARGE"])(
        "%j is unknown: no guess",
        (type) => {
            expect(instanceMemoryMiB(type)).toBeUndefined();
        },
    );
});

describe("defaultDynamicSpaceSizeMb: the app's heap share of an instance", () => {
    test("75% of the memory after a 256 MiB host reserve, in 64 MiB steps, at least 256", () => {
        expect(defaultDynamicSpaceSizeMb("t3.micro")).toBe(576); // (1024 - 256) * 0.75
        expect(defaultDynamicSpaceSizeMb("t3.small")).toBe(1344); // (2048 - 256) * 0.75 = 1344
        expect(defaultDynamicSpaceSizeMb("m6i.large")).toBe(5952); // (8192 - 256) * 0.75
        expect(defaultDynamicSpaceSizeMb("t3.nano")).toBe(256); // 192, raised to the smallest heap
        expect(defaultDynamicSpaceSizeMb("c5n.large")).toBeUndefined();
    });

    test("for every known size, the heap and MemoryMax fit the instance, and the heap is one LispImage accepts", () => {
        const families = ["t2", "t3", "t3a", "t4g", "m5", "m6i", "m7g", "c5", "c6g", "c7i", "r5", "r6g", "r7i"];
        const sizes = ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge", "24xlarge"];
        let checked = 0;
        for (const family of families) {
            for (const size of sizes) {
                const type = `${family}.${size}`;
                const memory = instanceMemoryMiB(type);
                const heap = defaultDynamicSpaceSizeMb(type);
                if (memory === undefined) {
                    expect(heap).toBeUndefined();
                    continue;
                }
                checked++;
                expect(heap).toBeGreaterThanOrEqual(DYNAMIC_SPACE_SIZE_LIMITS_MB.min);
                expect(heap! % 64).toBe(0);
                // Above half a GiB, the unit's limit leaves the host its memory; on a nano nothing can.
                if (memory >= 1024) expect(memoryMaxFor(heap!)).toBeLessThan(memory);
            }
        }
        expect(checked).toBeGreaterThan(60);
    });
});
