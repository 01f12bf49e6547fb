//! TCP and UDP ends grouped into channels by their addresses: a connected socket by its two
//! endpoints (its peer's socket holds them the other way round), and an unconnected socket (a
//! UDP server's) together with the connected sockets that send to it.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::channel_group::{EndFigures, Group, Naming, Side};

/// An address family, address and port, as the kernel side recorded them.
type Endpoint = (u16, [u8; 16], u16);

/// `AF_INET6`.
const AF_INET6: u16 = 10;

fn local(end: &EndFigures) -> Endpoint {
    (end.info.family, end.info.local_addr, end.info.local_port)
}

/// The peer's endpoint, if the socket is connected.
fn remote(end: &EndFigures) -> Option<Endpoint> {
    let i = &end.info;
    (i.remote_port != 0 || i.remote_addr != [0; 16]).then_some((
        i.family,
        i.remote_addr,
        i.remote_port,
    ))
}

/// `127.0.0.1:6379` or `[::1]:53`.
fn show(endpoint: &Endpoint) -> String {
    let (family, addr, port) = endpoint;
    if *family == AF_INET6 {
        format!("[{}]:{port}", Ipv6Addr::from(*addr))
    } else {
        format!(
            "{}:{port}",
            Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3])
        )
    }
}

/// Whether every end's own address is a loopback one.
pub(super) fn all_loopback(ends: &[&EndFigures]) -> bool {
    ends.iter().all(|end| {
        let (family, addr, _) = local(end);
        if family == AF_INET6 {
            let v6 = Ipv6Addr::from(addr);
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        } else {
            addr[0] == 127
        }
    })
}

/// `tcp`, `udp`, or `socket`.
fn kind(end: &EndFigures) -> &'static str {
    match end.info.protocol {
        6 => "tcp",
        17 => "udp",
        _ => "socket",
    }
}

/// The channels of the inet ends `ends`.
pub(super) fn groups<'a>(ends: &[&'a EndFigures]) -> Vec<Group<'a>> {
    let mut connected: BTreeMap<(u16, Endpoint, Endpoint), Vec<&'a EndFigures>> = BTreeMap::new();
    let mut unconnected: BTreeMap<(u16, Endpoint), Vec<&'a EndFigures>> = BTreeMap::new();
    for &end in ends {
        let protocol = end.info.protocol;
        match remote(end) {
            Some(peer) => {
                let (a, b) = (local(end).min(peer), local(end).max(peer));
                connected.entry((protocol, a, b)).or_default().push(end);
            }
            None => unconnected
                .entry((protocol, local(end)))
                .or_default()
                .push(end),
        }
    }
    // A connected socket whose peer is an unconnected one that is traced (a UDP client of a
    // server that answers with sendto) belongs to that server's channel.
    let mut clients: BTreeMap<(u16, Endpoint), Vec<&'a EndFigures>> = BTreeMap::new();
    connected.retain(|&(protocol, a, b), members| {
        let has = |e: Endpoint| members.iter().any(|m| local(m) == e);
        let server = [a, b]
            .into_iter()
            .find(|&e| !has(e) && unconnected.contains_key(&(protocol, e)));
        match server {
            Some(server) => {
                clients
                    .entry((protocol, server))
                    .or_default()
                    .append(members);
                false
            }
            None => true,
        }
    });
    let inodes = |members: &[&EndFigures]| {
        let mut inodes: Vec<u64> = members.iter().map(|m| m.info.ino).collect();
        inodes.sort_unstable();
        inodes.dedup();
        inodes
    };
    let mut groups = Vec::new();
    for ((_, a, b), members) in connected {
        let side = |e: Endpoint| Side {
            inode: None,
            address: Some(show(&e)),
            ends: members.iter().copied().filter(|m| local(m) == e).collect(),
        };
        groups.push(Group {
            kind: kind(members[0]).to_string(),
            inodes: inodes(&members),
            addresses: vec![show(&a), show(&b)],
            sides: vec![side(a), side(b)],
            ways: vec![(Some(0), Some(1)), (Some(1), Some(0))],
            naming: Naming::Addresses,
            title: None,
            members,
        });
    }
    for (key, servers) in unconnected {
        let served = clients.remove(&key).unwrap_or_default();
        let server_address = show(&key.1);
        let mut addresses: Vec<String> = Vec::new();
        for client in &served {
            let shown = show(&local(client));
            if !addresses.contains(&shown) {
                addresses.push(shown);
            }
        }
        let (sides, ways) = if served.is_empty() {
            (
                vec![(server_address.clone(), servers.clone())],
                vec![(Some(0), None), (None, Some(0))],
            )
        } else {
            (
                vec![
                    (server_address.clone(), servers.clone()),
                    (addresses.join(", "), served.clone()),
                ],
                vec![(Some(1), Some(0)), (Some(0), Some(1))],
            )
        };
        addresses.push(server_address);
        let mut members = servers;
        members.extend(served);
        groups.push(Group {
            kind: kind(members[0]).to_string(),
            inodes: inodes(&members),
            addresses,
            sides: sides
                .into_iter()
                .map(|(address, ends)| Side {
                    inode: None,
                    address: Some(address),
                    ends,
                })
                .collect(),
            ways,
            naming: Naming::Addresses,
            title: None,
            members,
        });
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc_ebpf::{end_kind, EndInfo};

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut addr = [0; 16];
        addr[..4].copy_from_slice(&a);
        addr
    }

    fn socket(slot: u32, protocol: u16, here: u16, there: u16) -> EndFigures {
        EndFigures {
            info: EndInfo {
                slot,
                kind: end_kind::INET,
                family: 2,
                protocol,
                local_addr: v4([127, 0, 0, 1]),
                local_port: here,
                remote_addr: if there == 0 {
                    [0; 16]
                } else {
                    v4([127, 0, 0, 1])
                },
                remote_port: there,
                ..EndInfo::default()
            },
            ..EndFigures::default()
        }
    }

    #[test]
    fn a_tcp_connection_s_two_sockets_are_one_channel_named_by_both_addresses() {
        let (client, server) = (socket(0, 6, 41234, 6379), socket(1, 6, 6379, 41234));
        let groups = groups(&[&client, &server]);
        assert_eq!(groups.len(), 1);
        let g = &groups[0];
        assert_eq!(g.kind, "tcp");
        assert_eq!(g.addresses, ["127.0.0.1:6379", "127.0.0.1:41234"]);
        assert_eq!(
            g.sides[0].ends[0].info.slot, 1,
            "the side at 6379 is the server's"
        );
        assert!(all_loopback(&g.members));
    }

    #[test]
    fn udp_clients_join_the_unconnected_server_they_send_to() {
        let server = socket(0, 17, 5000, 0);
        let (one, two) = (socket(1, 17, 40001, 5000), socket(2, 17, 40002, 5000));
        let groups = groups(&[&server, &one, &two]);
        assert_eq!(groups.len(), 1, "one channel: the server and its clients");
        let g = &groups[0];
        assert_eq!(
            g.addresses,
            ["127.0.0.1:40001", "127.0.0.1:40002", "127.0.0.1:5000"]
        );
        assert_eq!(g.ways, [(Some(1), Some(0)), (Some(0), Some(1))]);
        assert_eq!(g.sides[1].ends.len(), 2);
    }

    #[test]
    fn a_socket_whose_peer_was_not_traced_is_a_channel_of_its_own() {
        let lone = socket(0, 6, 41234, 443);
        let groups = groups(&[&lone]);
        assert_eq!(groups.len(), 1);
        let empty: Vec<_> = groups[0]
            .sides
            .iter()
            .filter(|s| s.ends.is_empty())
            .collect();
        assert_eq!(empty.len(), 1, "the peer's side is empty");
        assert_eq!(empty[0].address.as_deref(), Some("127.0.0.1:443"));
        assert_eq!(show(&(10, Ipv6Addr::LOCALHOST.octets(), 53)), "[::1]:53");
    }
}
