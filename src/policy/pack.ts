// The entry point the Pulumi engine runs for `pulumi preview --policy-pack <path>/policy-pack`.
// Constructing a PolicyPack starts its gRPC server, so nothing else imports this file: tests use
// ./policies directly.
import { PolicyPack } from "@pulumi/policy";
import { lispDeployPolicies } from "./policies";

new PolicyPack("lisp-deploy", { policies: lispDeployPolicies });
