//! Faults the simulator can be told to inject, for the next N requests or a fraction of them.

use std::time::Duration;

use rand::Rng;

use super::record::Endpoint;

/// What goes wrong with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Wait this long (real time) before answering normally.
    Delay(Duration),
    /// Answer with this HTTP status and no JSON; nothing is delivered.
    Http(u16),
    /// Answer HTTP 200 with this errcode (-1, 42001, 45009, 60020, 93000…); nothing is delivered.
    Errcode(i64),
    /// Drop the connection before processing; nothing is delivered.
    Drop,
    /// Deliver the message, then drop the connection instead of answering.
    LoseResponse,
}

/// How many requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Times {
    /// The next N matching requests.
    Next(u32),
    /// Each matching request with this probability (0.0–1.0), until cleared.
    Fraction(f64),
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTarget {
    /// Every endpoint that delivers a message (not `gettoken`).
    Messages,
    /// One endpoint only.
    Only(Endpoint),
    /// Everything, `gettoken` included.
    Any,
}

impl FaultTarget {
    fn matches(self, endpoint: Endpoint) -> bool {
        match self {
            FaultTarget::Messages => endpoint.is_message(),
            FaultTarget::Only(e) => e == endpoint,
            FaultTarget::Any => true,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FaultPlan {
    pub fault: Fault,
    pub target: FaultTarget,
    pub times: Times,
}

/// The active fault plans, consulted in the order they were added.
#[derive(Debug, Default)]
pub(crate) struct FaultBook {
    plans: Vec<FaultPlan>,
}

impl FaultBook {
    pub fn add(&mut self, plan: FaultPlan) {
        self.plans.push(plan);
    }

    pub fn clear(&mut self) {
        self.plans.clear();
    }

    /// The fault to apply to this request, if any; uses up one of a `Next(n)` plan.
    pub fn draw(&mut self, endpoint: Endpoint, rng: &mut impl Rng) -> Option<Fault> {
        let mut chosen = None;
        for plan in self.plans.iter_mut() {
            if !plan.target.matches(endpoint) {
                continue;
            }
            match &mut plan.times {
                Times::Next(left) if *left > 0 => {
                    *left -= 1;
                    chosen = Some(plan.fault.clone());
                    break;
                }
                Times::Next(_) => {}
                Times::Fraction(p) => {
                    if rng.gen_bool(p.clamp(0.0, 1.0)) {
                        chosen = Some(plan.fault.clone());
                        break;
                    }
                }
            }
        }
        self.plans
            .retain(|plan| !matches!(plan.times, Times::Next(0)));
        chosen
    }
}
