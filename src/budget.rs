//! Work budgets. Every per-file stage whose work is not linear in the file's size
//! by construction (inlining copies callees into callers; rules compare effects
//! pairwise) draws on a budget proportional to the file's size. A stage that runs
//! out gives up on that function, says so in a `skipped` error naming the file,
//! the function and the stage, and the run goes on: no input can stall it.

/// Units of work left; what a unit is belongs to the stage that spends it.
#[derive(Clone, Debug)]
pub struct Budget {
    left: u64,
}

impl Budget {
    /// `per_byte` units for each byte of the source, and never less than `floor`,
    /// so that small files are never limited.
    pub fn for_source(bytes: usize, per_byte: u64, floor: u64) -> Budget {
        Budget {
            left: (bytes as u64).saturating_mul(per_byte).max(floor),
        }
    }

    /// Spends `units`, or says there are not that many left (and then spends nothing).
    pub fn spend(&mut self, units: u64) -> bool {
        match self.left.checked_sub(units) {
            Some(left) => {
                self.left = left;
                true
            }
            None => false,
        }
    }

    pub fn left(&self) -> u64 {
        self.left
    }
}

#[cfg(test)]
mod tests {
    use super::Budget;

    #[test]
    fn a_budget_scales_with_the_source_and_has_a_floor() {
        assert_eq!(Budget::for_source(10, 4, 100).left(), 100);
        assert_eq!(Budget::for_source(1_000, 4, 100).left(), 4_000);
        assert_eq!(Budget::for_source(usize::MAX, u64::MAX, 0).left(), u64::MAX);
    }

    #[test]
    fn spending_past_the_budget_is_refused_and_costs_nothing() {
        let mut budget = Budget::for_source(0, 0, 10);
        assert!(budget.spend(7));
        assert!(!budget.spend(4));
        assert_eq!(budget.left(), 3);
        assert!(budget.spend(3));
        assert!(!budget.spend(1));
    }
}
