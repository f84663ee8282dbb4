//! The world of one process: the default, and what every loop runs when no launcher says
//! otherwise. Every operation is the identity, so a loop written against [`Collective`] costs
//! nothing on one machine.
use crate::collective::{Collective, CollectiveError};

#[derive(Debug, Clone, Copy, Default)]
pub struct Local;

impl Collective for Local {
    fn rank(&self) -> usize {
        0
    }
    fn world_size(&self) -> usize {
        1
    }
    fn backend(&self) -> &'static str {
        "local"
    }
    fn all_reduce_sum_f32(&self, _: &mut [f32]) -> Result<(), CollectiveError> {
        Ok(())
    }
    fn all_reduce_sum_f64(&self, _: &mut [f64]) -> Result<(), CollectiveError> {
        Ok(())
    }
    fn broadcast_f32(&self, _: &mut [f32], root: usize) -> Result<(), CollectiveError> {
        check_root(root)
    }
    fn broadcast_f64(&self, _: &mut [f64], root: usize) -> Result<(), CollectiveError> {
        check_root(root)
    }
    fn barrier(&self) -> Result<(), CollectiveError> {
        Ok(())
    }
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

fn check_root(root: usize) -> Result<(), CollectiveError> {
    if root == 0 {
        Ok(())
    } else {
        Err(CollectiveError::Op {
            op: "broadcast",
            detail: format!("root {root} in a world of 1"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collective::gather_bytes;

    #[test]
    fn local_operations_are_the_identity() {
        let mut v = vec![1.5f32, -2.0];
        Local.all_reduce_sum_f32(&mut v).unwrap();
        Local.all_reduce_mean_f32(&mut v).unwrap();
        assert_eq!(v, [1.5, -2.0]);
        let mut w = vec![3.0f64];
        Local.broadcast_f64(&mut w, 0).unwrap();
        assert_eq!(w, [3.0]);
        assert!(Local.broadcast_f64(&mut w, 1).is_err());
        assert_eq!(gather_bytes(&Local, b"abc").unwrap(), vec![b"abc".to_vec()]);
    }
}
