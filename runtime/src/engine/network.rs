//! A network: components and the wires between their ports.
//!
//! Built with [`NetworkBuilder`], which keeps the structure as a `petgraph` graph (one node
//! per component, one edge per wire from an output port to an input port) so it can be
//! inspected and validated; [`NetworkBuilder::build`] freezes it into flat routing tables
//! for the executors.

use crate::engine::component::Component;
use crate::engine::event::{CompId, Port};
use crate::engine::probe::Probe;
use crate::engine::time::Clock;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

/// A wire from `(source, out_port)` to `(target, in_port)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wire {
    /// Output port of the source.
    pub out_port: Port,
    /// Input port of the target.
    pub in_port: Port,
}

/// A component node of the graph.
pub struct Node {
    /// Unique name (e.g. `hidden.neuron[3]`).
    pub name: String,
    /// The component.
    pub component: Box<dyn Component>,
    /// What probes record of it.
    pub probed: Probe,
}

/// Builds a network.
pub struct NetworkBuilder {
    clock: Clock,
    graph: DiGraph<Node, Wire>,
}

impl NetworkBuilder {
    /// An empty network on `clock`.
    pub fn new(clock: Clock) -> Self {
        NetworkBuilder {
            clock,
            graph: DiGraph::new(),
        }
    }

    /// Adds a component; returns its id (ids are dense and in insertion order).
    pub fn add(&mut self, name: impl Into<String>, component: Box<dyn Component>) -> CompId {
        let idx = self.graph.add_node(Node {
            name: name.into(),
            component,
            probed: Probe::Off,
        });
        idx.index() as CompId
    }

    /// Wires `src`'s output port to `dst`'s input port.
    pub fn connect(&mut self, src: CompId, out_port: Port, dst: CompId, in_port: Port) {
        self.graph.add_edge(
            NodeIndex::new(src as usize),
            NodeIndex::new(dst as usize),
            Wire { out_port, in_port },
        );
    }

    /// Marks a component as probed (every kind it records).
    pub fn probe(&mut self, id: CompId) {
        self.graph[NodeIndex::new(id as usize)].probed = Probe::All;
    }

    /// Sets what probes record of a component (e.g. only some kinds).
    pub fn probe_with(&mut self, id: CompId, probe: Probe) {
        self.graph[NodeIndex::new(id as usize)].probed = probe;
    }

    /// The graph (for inspection and validation).
    pub fn graph(&self) -> &DiGraph<Node, Wire> {
        &self.graph
    }

    /// Number of components so far.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// Whether no component was added.
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// Freezes the graph into a [`Network`]. Fan-out order of a port is the order in which
    /// wires were added.
    pub fn build(self) -> Network {
        let n = self.graph.node_count();
        let mut routes: Vec<Vec<Vec<(CompId, Port)>>> = vec![Vec::new(); n];
        // petgraph lists a node's edges newest first; collect and restore insertion order.
        for node in self.graph.node_indices() {
            let mut edges: Vec<_> = self.graph.edges(node).collect();
            edges.sort_by_key(|e| e.id());
            for e in edges {
                let w = e.weight();
                let table = &mut routes[node.index()];
                if table.len() <= w.out_port as usize {
                    table.resize(w.out_port as usize + 1, Vec::new());
                }
                table[w.out_port as usize].push((e.target().index() as CompId, w.in_port));
            }
        }
        let (nodes, _) = self.graph.into_nodes_edges();
        let mut names = Vec::with_capacity(n);
        let mut components = Vec::with_capacity(n);
        let mut probed = Vec::with_capacity(n);
        for node in nodes {
            names.push(node.weight.name);
            components.push(node.weight.component);
            probed.push(node.weight.probed);
        }
        Network {
            clock: self.clock,
            names,
            components,
            probed,
            routes,
            source_digest: None,
        }
    }
}

/// A frozen network ready to run.
pub struct Network {
    /// The global clock.
    pub clock: Clock,
    /// Component names, by id.
    pub names: Vec<String>,
    /// Components, by id.
    pub components: Vec<Box<dyn Component>>,
    /// What probes record, by id.
    pub probed: Vec<Probe>,
    /// `routes[src][out_port]` = the `(dst, in_port)` wires of that port.
    pub routes: Vec<Vec<Vec<(CompId, Port)>>>,
    /// A digest of what the network was built from (topology with its protocol, devices,
    /// patterns, saved weights), where known: executors that build the same network in
    /// several processes compare it.
    pub source_digest: Option<[u8; 32]>,
}

impl Network {
    /// The wires leaving `(src, out_port)`.
    #[inline]
    pub fn fanout(&self, src: CompId, out_port: Port) -> &[(CompId, Port)] {
        self.routes[src as usize]
            .get(out_port as usize)
            .map_or(&[], |v| v.as_slice())
    }

    /// The component with id `id`, downcast to `T`.
    pub fn get<T: 'static>(&self, id: CompId) -> Option<&T> {
        self.components.get(id as usize)?.as_any().downcast_ref()
    }

    /// The component with id `id`, downcast to `T`, mutably.
    pub fn get_mut<T: 'static>(&mut self, id: CompId) -> Option<&mut T> {
        self.components
            .get_mut(id as usize)?
            .as_any_mut()
            .downcast_mut()
    }

    /// Id of the component named `name`.
    pub fn id(&self, name: &str) -> Option<CompId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| i as CompId)
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.components.len()
    }

    /// Whether the network has no component.
    pub fn is_empty(&self) -> bool {
        self.components.is_empty()
    }
}
