// Type-aware lint: floating promises and unsafe `any` flows are errors, because a dropped promise in
// an informer callback or an admission handler fails silently in production.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/", "**/*.js", "**/*.mjs", "**/*.cjs"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-non-null-assertion": "error",
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
    },
  },
  {
    // Tests build request bodies for @kubernetes/client-node as object literals. Its model classes
    // (V1Pod, ...) are plain data holders: ObjectSerializer serializes by the declared type name,
    // never by prototype, so "not created by its constructor" and "spread loses the prototype"
    // guard against nothing there.
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-class-instance-assignment": "off",
      "@typescript-eslint/no-misused-spread": "off",
    },
  },
);
