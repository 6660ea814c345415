// Package hygiene checks the repository itself, by reading it: the
// Dockerfile (parsed, its build command run with the local go) and its
// .dockerignore (matched as Docker matches it), and the size of the code
// (no package over 1,200 lines, no function over 100). It has no code of
// its own outside its tests; nothing imports it.
package hygiene
