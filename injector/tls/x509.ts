// @peculiar/x509 2.x resolves its algorithm providers through tsyringe, which needs the Reflect
// metadata polyfill loaded before it: this module's only job is that order (ESM evaluates imports
// in order). Import x509 from here, never from the package directly.
import "reflect-metadata";
export * from "@peculiar/x509";
