"""The inventory works with ansible-playbook -i as it is: locally and over real SSH (netns)."""

import yaml

PLAYBOOK = """
- name: Reach every lab host and see its installation
  hosts: all
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:

    - name: Stat the Controller's controller.conf
      ansible.builtin.stat:
        path: "{{ js7_controller_data }}/config/controller.conf"
      register: conf
      when: js7_controller_data is defined

    - name: The file is there
      ansible.builtin.assert:
        that: conf.stat.exists
      when: js7_controller_data is defined

    - name: Stat the Agent's data directory
      ansible.builtin.stat:
        path: "{{ js7_agent_data }}/config"
      register: agent
      when: js7_agent_data is defined

    - name: The Agent's config directory is there
      ansible.builtin.assert:
        that: agent.stat.isdir
      when: js7_agent_data is defined

    - name: Report the host
      ansible.builtin.command: hostname
      register: name
      changed_when: false

    - name: Show it
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }} {{ name.stdout }} {{ js7_node_role | default('-') }}"
"""


def test_inventory_contract(lab_mode, lab_factory):
    lab = lab_factory(state="healthy", version="2.5")
    with open(lab.inventory, encoding="utf-8") as stream:
        inventory = yaml.safe_load(stream)
    children = inventory["all"]["children"]
    assert set(children) == {"js7_controller_primary", "js7_controller_secondary", "js7_cluster_watch_agent",
                             "js7_joc"}
    hosts = lab.hosts
    primary = hosts["c1-primary"]
    for key in ("js7_cluster", "js7_node_role", "js7_controller_id", "js7_controller_home", "js7_controller_data",
                "js7_controller_url", "js7_controller_cluster_url", "js7_service_method", "js7_user",
                "js7_version", "js7_joc_url", "js7_joc_user", "js7_joc_password"):
        assert key in primary, key
    assert primary["js7_node_role"] == "primary" and primary["js7_cluster"] == "cluster1"
    assert hosts["c1-agent"]["js7_node_role"] == "cluster_watch"
    assert hosts["c1-agent"]["js7_agent_data"].endswith("/var/sos-berlin.com/js7/agent/var_4445")
    assert primary["js7_joc_user"] == "root" and primary["js7_service_method"] == "script"
    if lab.mode == "local":
        assert primary["ansible_connection"] == "local"
        assert primary["ansible_python_interpreter"] == "/usr/bin/python3"
        assert primary["js7_controller_home"].startswith(lab.dir + "/hosts/c1-primary/opt/sos-berlin.com/")
    else:
        assert primary["ansible_host"] == "198.18.1.1" and primary["ansible_user"] == "root"
        assert primary["js7_controller_home"] == "/opt/sos-berlin.com/js7/controller"
    result = lab.playbook(PLAYBOOK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in result.stdout and "unreachable=0" in result.stdout
    if lab.mode == "netns":
        assert '"c1-secondary c1-secondary secondary"' in result.stdout  # its own UTS name over SSH


def test_inventory_groups_27(lab_factory):
    lab = lab_factory(state="healthy", version="2.7")
    with open(lab.inventory, encoding="utf-8") as stream:
        children = yaml.safe_load(stream)["all"]["children"]
    assert "js7_agent" in children and "js7_cluster_watch_agent" not in children
