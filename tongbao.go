// Package tongbao holds the vocabulary shared by every part of the two-tier
// digital currency platform: identifiers, money, errors and the clock. It
// imports no database, network or storage package, so the engine and the
// domain can depend on it without dragging any of those along.
package tongbao
