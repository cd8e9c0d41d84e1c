// Package celcost holds what the CEL users (contract conditions, risk
// rules) share to estimate an expression's worst cost before it runs.
package celcost

import "github.com/google/cel-go/checker"

// Bounded tells the cost estimate that every string, list and map an
// expression reads holds at most that many items: the inputs are bounded
// where they are made, so the estimate is a real worst case.
type Bounded uint64

// EstimateSize implements checker.CostEstimator.
func (b Bounded) EstimateSize(checker.AstNode) *checker.SizeEstimate {
	return &checker.SizeEstimate{Min: 0, Max: uint64(b)}
}

// EstimateCallCost implements checker.CostEstimator: the default costs.
func (Bounded) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}
