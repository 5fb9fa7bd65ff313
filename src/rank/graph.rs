//! Identification of Bradley-Terry ratings from the comparison graph.
//!
//! The unregularised MLE exists and is unique up to a common shift exactly when the "scored against" graph is
//! strongly connected (Zermelo 1929, Ford 1957): an edge i → j when i won or tied at least once against j. A model
//! that never loses (or never wins), or a set of models cut off from the rest, breaks that, and its rating runs to
//! ±infinity. We find the strongly connected components with Kosaraju's algorithm.

use super::rows::Pair;

/// Strongly connected components of the scored-against graph among models that have battles.
#[derive(Clone, Debug)]
pub struct Components {
    /// Component id per model; `None` for models without battles.
    pub of: Vec<Option<usize>>,
    /// Number of models in each component.
    pub sizes: Vec<usize>,
}

impl Components {
    /// Computes the components from pair totals.
    pub fn new(n: usize, pairs: &[Pair]) -> Self {
        let mut out_edges = vec![Vec::new(); n];
        let mut in_edges = vec![Vec::new(); n];
        let mut active = vec![false; n];
        for p in pairs {
            let (i, j) = (p.i as usize, p.j as usize);
            if p.n <= 0.0 {
                continue;
            }
            active[i] = true;
            active[j] = true;
            if p.s > 0.0 {
                out_edges[i].push(j);
                in_edges[j].push(i);
            }
            if p.n - p.s > 0.0 {
                out_edges[j].push(i);
                in_edges[i].push(j);
            }
        }
        let order = finish_order(&out_edges, &active);
        let mut of = vec![None; n];
        let mut sizes = Vec::new();
        for &start in order.iter().rev() {
            if of[start].is_some() {
                continue;
            }
            let c = sizes.len();
            let mut size = 0;
            let mut stack = vec![start];
            of[start] = Some(c);
            while let Some(v) = stack.pop() {
                size += 1;
                for &u in &in_edges[v] {
                    if of[u].is_none() {
                        of[u] = Some(c);
                        stack.push(u);
                    }
                }
            }
            sizes.push(size);
        }
        Self { of, sizes }
    }

    /// True when all models with battles form one component (the MLE exists).
    pub fn strongly_connected(&self) -> bool {
        self.sizes.len() <= 1
    }

    /// The largest component (the first of equal size), if any.
    pub fn largest(&self) -> Option<usize> {
        (0..self.sizes.len()).max_by_key(|&c| (self.sizes[c], std::cmp::Reverse(c)))
    }

    /// Whether the data pin model `m`'s rating relative to the main group: it belongs to the largest component
    /// and that component has at least two models.
    pub fn identified(&self, m: usize) -> bool {
        match (self.of[m], self.largest()) {
            (Some(c), Some(l)) => c == l && self.sizes[l] >= 2,
            _ => false,
        }
    }
}

/// Depth-first finish order over active nodes (iterative, so deep graphs cannot overflow the stack).
fn finish_order(out_edges: &[Vec<usize>], active: &[bool]) -> Vec<usize> {
    let n = out_edges.len();
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    for root in 0..n {
        if seen[root] || !active[root] {
            continue;
        }
        seen[root] = true;
        let mut stack = vec![(root, 0usize)];
        while let Some((v, k)) = stack.pop() {
            if let Some(&u) = out_edges[v].get(k) {
                stack.push((v, k + 1));
                if !seen[u] {
                    seen[u] = true;
                    stack.push((u, 0));
                }
            } else {
                order.push(v);
            }
        }
    }
    order
}

/// A reusable strong-connectivity check over a fixed set of pairs whose totals change (bootstrap replicates): two
/// searches from one model, forward along "scored against" edges and backward, without allocating.
#[derive(Clone, Debug)]
pub struct Reach {
    /// For each model, its (other model, pair index) list, CSR-style.
    start: Vec<usize>,
    links: Vec<(u32, u32)>,
    seen: Vec<bool>,
    active: Vec<bool>,
    stack: Vec<u32>,
}

impl Reach {
    /// Builds the adjacency of `n` models over the distinct pairs `(i, j)`.
    pub fn new(n: usize, pairs: &[(u32, u32)]) -> Self {
        let mut degree = vec![0usize; n + 1];
        for &(i, j) in pairs {
            degree[i as usize + 1] += 1;
            degree[j as usize + 1] += 1;
        }
        for k in 0..n {
            degree[k + 1] += degree[k];
        }
        let mut fill = degree.clone();
        let mut links = vec![(0, 0); 2 * pairs.len()];
        for (p, &(i, j)) in pairs.iter().enumerate() {
            links[fill[i as usize]] = (j, p as u32);
            fill[i as usize] += 1;
            links[fill[j as usize]] = (i, p as u32);
            fill[j as usize] += 1;
        }
        Self { start: degree, links, seen: vec![false; n], active: Vec::new(), stack: Vec::new() }
    }

    /// True when the models with battles in `pairs` (same order as at construction) form one strongly connected
    /// component of the scored-against graph.
    pub fn strongly_connected(&mut self, pairs: &[Pair]) -> bool {
        let n = self.seen.len();
        self.active.clear();
        self.active.resize(n, false);
        for p in pairs.iter().filter(|p| p.n > 0.0) {
            self.active[p.i as usize] = true;
            self.active[p.j as usize] = true;
        }
        let Some(root) = self.active.iter().position(|&a| a) else { return true };
        for forward in [true, false] {
            self.seen.fill(false);
            self.seen[root] = true;
            self.stack.clear();
            self.stack.push(root as u32);
            while let Some(v) = self.stack.pop() {
                let v = v as usize;
                for &(u, p) in &self.links[self.start[v]..self.start[v + 1]] {
                    let pair = &pairs[p as usize];
                    // Score of v against u in this pair, and of u against v.
                    let (v_scored, u_scored) =
                        if pair.i as usize == v { (pair.s, pair.n - pair.s) } else { (pair.n - pair.s, pair.s) };
                    let edge = if forward { v_scored > 0.0 } else { u_scored > 0.0 };
                    if edge && !self.seen[u as usize] {
                        self.seen[u as usize] = true;
                        self.stack.push(u);
                    }
                }
            }
            if self.seen.iter().zip(&self.active).any(|(&seen, &active)| active && !seen) {
                return false;
            }
        }
        true
    }
}
