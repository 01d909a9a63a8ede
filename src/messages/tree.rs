//! The live supervision tree of a cluster as it travels to executors (`cluster_info`) and
//! prints in `taskforce status`: each node a process, a supervisor or a child, with its
//! restart count and the last reason it exited.
//!
//! Plain data and text; the actors fill it from their supervisors' views.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// One node of the tree.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeNode {
    /// What it is: `center`, `nanny nanny-4242`, `worker w1 (pid 4243)`, `scheduler`, ...
    pub name: String,
    /// Where it stands: `running`, `not started`, `exited: …`, `removed`, `gave up: …`.
    pub status: String,
    /// How often it was restarted.
    pub restarts: u32,
    /// Why it last exited, if it ever did.
    pub last_exit: Option<String>,
    /// What runs under it, in start order.
    pub children: Vec<TreeNode>,
}

impl TreeNode {
    /// A running node with no restarts yet.
    pub fn running(name: impl Into<String>) -> Self {
        TreeNode {
            name: name.into(),
            status: "running".into(),
            ..TreeNode::default()
        }
    }

    /// The first node named `name` here or below (depth first).
    pub fn find(&self, name: &str) -> Option<&TreeNode> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|child| child.find(name))
    }
}

/// The trees drawn one node a line, children indented under their parent:
///
/// ```text
/// center  running
/// ├── scheduler  running  restarts=1  last_exit="panicked: boom"
/// └── center  running
/// ```
pub fn render(roots: &[TreeNode]) -> String {
    let mut out = String::new();
    for root in roots {
        render_node(&mut out, root, "", None);
    }
    out
}

fn render_node(out: &mut String, node: &TreeNode, prefix: &str, last: Option<bool>) {
    let branch = match last {
        None => "",
        Some(true) => "└── ",
        Some(false) => "├── ",
    };
    let _ = write!(out, "{prefix}{branch}{}  {}", node.name, node.status);
    if node.restarts > 0 {
        let _ = write!(out, "  restarts={}", node.restarts);
    }
    if let Some(exit) = &node.last_exit {
        let _ = write!(out, "  last_exit={exit:?}");
    }
    out.push('\n');
    let below = match last {
        None => prefix.to_string(),
        Some(true) => format!("{prefix}    "),
        Some(false) => format!("{prefix}│   "),
    };
    for (index, child) in node.children.iter().enumerate() {
        let is_last = index + 1 == node.children.len();
        render_node(out, child, &below, Some(is_last));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_renders_with_branches_and_restart_counts() {
        let mut scheduler = TreeNode::running("scheduler");
        scheduler.restarts = 1;
        scheduler.last_exit = Some("panicked: boom".into());
        let mut center = TreeNode::running("center");
        center.children = vec![scheduler, TreeNode::running("listener")];
        let mut nanny = TreeNode::running("nanny n1");
        nanny.children = vec![TreeNode::running("worker w1")];
        let text = render(&[center, nanny]);
        assert_eq!(
            text,
            "center  running\n\
             ├── scheduler  running  restarts=1  last_exit=\"panicked: boom\"\n\
             └── listener  running\n\
             nanny n1  running\n\
             └── worker w1  running\n"
        );
    }
}
