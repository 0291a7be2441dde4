// Package contract holds the tests of what the project promises to the
// GitHub runner and to its users, outside any one package: the built
// binary run the way the runner runs a container action (inputs as INPUT_
// variables with defaults applied, the output, summary and event files),
// the Dockerfile's rules, and the agreement between action.yml, the
// configuration, the README and the workflows. It has no code of its own.
package contract
