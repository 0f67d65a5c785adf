// Package layers holds only a test: it keeps the import graph of the
// module's packages as ARCHITECTURE.md draws it, so a lower package never
// comes to import a higher one.
package layers
