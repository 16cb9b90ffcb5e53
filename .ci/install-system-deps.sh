#!/usr/bin/env bash
# System packages the test suite uses: Java for Spark, slapd for LDAP, tmux for the TUI smoke test,
# chromium + chromium-driver for the Spark UI proxy and sessions page tests, prometheus for promtool,
# zookeeper for the replicas tests.
set -euo pipefail
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need+=(slapd)
command -v ldapadd >/dev/null 2>&1 || need+=(ldap-utils)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v pgrep >/dev/null 2>&1 || need+=(procps)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
ls /usr/share/java/zookeeper.jar >/dev/null 2>&1 || need+=(zookeeper)  # a real ZooKeeper for the [ha] tests  # promtool checks k8s/monitoring/alerts.yaml
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
