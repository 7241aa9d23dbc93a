@testable import IsorunCgroups
import Testing

/// The raises cgroup v1 ancestors need so that a container's real-time budget fits: the
/// kernel's rule is that a group's share (runtime/period in 1/2^20ths, rounded down) covers
/// the sum of its children's.
struct RealtimeBudgetTests {
    typealias Budget = RealtimeBudget.Budget
    typealias Ancestor = RealtimeBudget.Ancestor

    @Test func sharesAreTheKernelsRoundedDownRatio() {
        #expect(Budget(runtime: 20_000, period: 500_000).share == 41_943)
        #expect(Budget(runtime: 0, period: 1_000_000).share == 0)
        #expect(Budget(runtime: -1, period: 1_000_000).share == Int64.max)
    }

    @Test func emptyAncestorsAreRaisedTopDownToExactlyWhatIsNeeded() {
        // isorun/ and tenant/ under it, both with nothing yet; 4% wanted below tenant/.
        let raises = RealtimeBudget.raises(for: Budget(runtime: 20_000, period: 500_000), below: [
            Ancestor(budget: Budget(runtime: 0, period: 1_000_000), otherChildrenShare: 0),
            Ancestor(budget: Budget(runtime: 0, period: 100_000), otherChildrenShare: 0),
        ])
        #expect(raises == [40_000, 4_000])
        // What they are raised to covers the child under the kernel's rounding.
        #expect(Budget(runtime: 4_000, period: 100_000).share >= Budget(runtime: 20_000, period: 500_000).share)
    }

    @Test func siblingsBudgetsAddUpAndEnoughIsLeftAlone() {
        let wanted = Budget(runtime: 50_000, period: 1_000_000)
        let sibling = Budget(runtime: 100_000, period: 1_000_000).share
        #expect(RealtimeBudget.raises(for: wanted, below: [
            Ancestor(budget: Budget(runtime: 120_000, period: 1_000_000), otherChildrenShare: sibling),
        ]) == [149_999])  // 10% + 5%, one µs under thanks to the kernel's rounding down
        #expect(RealtimeBudget.raises(for: wanted, below: [
            Ancestor(budget: Budget(runtime: 200_000, period: 1_000_000), otherChildrenShare: sibling),
        ]) == [nil])
        // An ancestor that already covers its child is not raised, and its parent is checked
        // against what it has rather than against the child's need.
        #expect(RealtimeBudget.raises(for: wanted, below: [
            Ancestor(budget: Budget(runtime: 100_000, period: 1_000_000), otherChildrenShare: 0),
            Ancestor(budget: Budget(runtime: 300_000, period: 1_000_000), otherChildrenShare: 0),
        ]) == [300_000, nil])
        #expect(RealtimeBudget.raises(for: wanted, below: [
            Ancestor(budget: Budget(runtime: -1, period: 1_000_000), otherChildrenShare: sibling),
        ]) == [nil])
    }
}
