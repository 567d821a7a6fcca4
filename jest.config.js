// Two projects so CI and developers can run the fast layer alone (`npm run test:unit`).
// ts-jest transpiles only (isolatedModules in tsconfig.test.json); `npm run typecheck` type-checks once.
const transform = { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.test.json" }] };
// Example programs import the package by name, as an infra repo would; tests load it from source.
const moduleNameMapper = { "^lisp-deploy$": "<rootDir>/src/index.ts" };
module.exports = {
  projects: [
    { displayName: "unit", testEnvironment: "node", transform, moduleNameMapper, testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
    {
      displayName: "integration",
      testEnvironment: "node",
      transform,
      moduleNameMapper,
      testMatch: ["<rootDir>/test/integration/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/harness/integration-setup.ts"],
      // Compiles the package once for the programs the real Pulumi CLI runs (they import bin/).
      globalSetup: "<rootDir>/test/harness/integration-global-setup.ts",
    },
  ],
};
