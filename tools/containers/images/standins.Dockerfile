# Stand-ins for the images this machine cannot pull (no registry): Debian's Prometheus 2.42 and
# Alertmanager 0.25 in the place of prom/prometheus and prom/alertmanager, an aiosmtpd mail catcher
# in the place of axllent/mailpit, and a Slack webhook receiver. Same entrypoints, paths and users
# as the real images where docker-compose.yml relies on them (tools/containers/images/build.sh tags
# them with the names docker-compose.yml uses).
ARG BASE
FROM ${BASE} AS tools
LABEL tradewatch.ci.image=standins
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        prometheus prometheus-alertmanager python3-aiosmtpd tzdata \
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*
COPY standins.py /opt/standins.py

FROM tools AS prometheus
# prom/prometheus: ENTRYPOINT /bin/prometheus, user nobody, data in /prometheus.
# (bookworm merges /usr: the package's /usr/bin/prometheus already is /bin/prometheus.)
RUN test -x /bin/prometheus && install -d -o 65534 -g 65534 /prometheus
USER 65534:65534
WORKDIR /prometheus
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]

FROM tools AS alertmanager
# prom/alertmanager: /bin/alertmanager (alertmanager/entrypoint.sh execs it), user nobody.
RUN ln -s prometheus-alertmanager /usr/bin/alertmanager && install -d -o 65534 -g 65534 /alertmanager
USER 65534:65534
WORKDIR /alertmanager
ENTRYPOINT ["/bin/alertmanager"]

FROM tools AS mailpit
# axllent/mailpit: /mailpit serves SMTP on 1025 and HTTP on 8025; `/mailpit readyz` is its healthcheck.
RUN printf '#!/bin/sh\nexec python3 /opt/standins.py mailpit "$@"\n' > /mailpit && chmod 755 /mailpit
USER 65534:65534
ENTRYPOINT ["/mailpit"]

FROM tools AS slack
USER 65534:65534
ENTRYPOINT ["python3", "/opt/standins.py", "slack"]
HEALTHCHECK --interval=2s --timeout=3s --retries=10 CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
