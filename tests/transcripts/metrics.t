# Metrics and health over HTTP (issue 21): Set-TransportServer -MetricsBindings lists the
# ip:port pairs that serve /metrics, /healthz and /readyz; loopback port 9525 by default,
# an empty list turns the endpoint off. The running server follows a change within its
# config poll. Bad bindings are refused and change nothing.
$ edgectl Get-TransportServer -Format List | grep -E '^MetricsBindings '
MetricsBindings                         : 127.0.0.1:9525
$ edgectl Set-TransportServer -MetricsBindings 192.0.2.10:9525,[::1]:9100
$ edgectl Get-TransportServer -Format List | grep -E '^MetricsBindings '
MetricsBindings                         : 192.0.2.10:9525, [::1]:9100
$ edgectl Set-TransportServer -MetricsBindings 127.0.0.1
! edgectl: Set-TransportServer: -MetricsBindings: '127.0.0.1' is not valid; expected IP:port such as 0.0.0.0:25, 192.0.2.1:2525 or [::]:25, not '127.0.0.1'
[exit 1]
$ edgectl Set-TransportServer -MetricsBindings 127.0.0.1:70000
! edgectl: Set-TransportServer: -MetricsBindings: '127.0.0.1:70000' is not valid; expected a TCP port from 1 to 65535 after the address, not '127.0.0.1:70000'
[exit 1]
$ edgectl Get-TransportServer -Format List | grep -E '^MetricsBindings '
MetricsBindings                         : 192.0.2.10:9525, [::1]:9100
$ edgectl Set-TransportServer -MetricsBindings ''
$ edgectl Get-TransportServer -Format List | grep -E '^MetricsBindings '
MetricsBindings                         : 
