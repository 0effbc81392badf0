package node

import "courtmesh.dev/courtmesh/node/health"

// Health is the node's health service: heartbeats, the mesh view, alerts
// and the dashboard model.
func (n *Node) Health() *health.Service { return n.health }
