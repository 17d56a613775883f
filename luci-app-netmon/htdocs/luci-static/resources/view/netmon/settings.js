'use strict';
'require view';
'require form';

// Services -> netmon: /etc/config/netmon through LuCI's form/uci layer
// (uci read/write of `netmon` only, see the ACL). The option names and values
// are the ones netmon's config reader takes (src/config/); netmon refuses an
// unknown option or value at its next run with the line number, so the
// choices here stay within what it reads. Meters are left to the file (see
// the comments in /etc/config/netmon). After Save & Apply, the config is
// committed and `reload_config` re-installs the counting rules.

return view.extend({
	render: function() {
		var m, s, o;

		m = new form.Map('netmon', _('netmon'),
			_('Network-usage accounting on the firewall\'s own counters. Usage is shown under Status → netmon.'));

		s = m.section(form.NamedSection, 'main', 'netmon', _('Main options'));
		s.addremove = false;
		o = s.option(form.ListValue, 'backend', _('Firewall backend'));
		o.value('auto', _('auto (nft on firewall4, else iptables)'));
		o.value('nft', 'nft');
		o.value('iptables', 'iptables');
		o.default = 'auto';
		o = s.option(form.Value, 'state_dir', _('State directory (RAM)'));
		o.placeholder = '/tmp/netmon';
		o.optional = true;
		o = s.option(form.Value, 'persist_dir', _('Persistent directory (flash)'));
		o.placeholder = '/etc/netmon';
		o.optional = true;
		o = s.option(form.Value, 'sync_interval', _('Sync to flash every'),
			_('e.g. 12h, 1d. Flash wears: do not make it short.'));
		o.placeholder = '12h';
		o.optional = true;
		o = s.option(form.Value, 'billing_day', _('Billing day'), _('Day of the month the monthly totals start on (31: last day).'));
		o.datatype = 'range(1,31)';
		o.placeholder = '1';
		o.optional = true;
		o = s.option(form.Value, 'metrics_file', _('Metrics file'),
			_('Prometheus text written here whenever netmon saves its state (absolute path, e.g. /var/prometheus/netmon.prom, in RAM), for node-exporter\'s textfile collector.'));
		o.optional = true;

		s = m.section(form.NamedSection, 'devices', 'devices', _('Devices'),
			_('Download and upload per LAN device, counted on the LAN bridge\'s ports.'));
		s.addremove = true;
		o = s.option(form.Flag, 'enabled', _('Enabled'));
		o.default = '1';
		o.rmempty = false;
		o = s.option(form.Value, 'bridge', _('LAN bridge'));
		o.placeholder = 'br-lan';
		o.optional = true;
		o = s.option(form.Value, 'max_devices', _('Most devices'));
		o.datatype = 'range(1,8192)';
		o.placeholder = '1024';
		o.optional = true;

		s = m.section(form.NamedSection, 'mail', 'mail', _('Mail'), _('Where reports and quota warnings are mailed.'));
		s.addremove = true;
		o = s.option(form.Flag, 'enabled', _('Enabled'));
		o.default = '1';
		o = s.option(form.ListValue, 'transport', _('Transport'));
		o.value('smtp', 'SMTP');
		o.value('sendmail', 'sendmail');
		o.default = 'smtp';
		o = s.option(form.Value, 'server', _('SMTP server'));
		o.datatype = 'host';
		o.depends('transport', 'smtp');
		o = s.option(form.Value, 'port', _('Port'));
		o.datatype = 'port';
		o.placeholder = '587';
		o.optional = true;
		o.depends('transport', 'smtp');
		o = s.option(form.Value, 'from', _('From'));
		o = s.option(form.DynamicList, 'to', _('To'));
		o = s.option(form.Value, 'subject', _('Subject'));
		o.optional = true;
		o = s.option(form.ListValue, 'auth', _('Authentication'));
		o.value('none', _('none'));
		o.value('plain', 'PLAIN');
		o.value('login', 'LOGIN');
		o.default = 'none';
		o.depends('transport', 'smtp');
		o = s.option(form.Value, 'username', _('Username'));
		o.depends('auth', 'plain');
		o.depends('auth', 'login');
		o = s.option(form.Value, 'password', _('Password'));
		o.password = true;
		o.depends('auth', 'plain');
		o.depends('auth', 'login');
		o = s.option(form.Flag, 'html', _('HTML part with a chart'));
		o.optional = true;

		s = m.section(form.TypedSection, 'quota', _('Quotas'),
			_('How much each listed device (or every device, when none is listed) may use in a day or a billing month, and what happens past it.'));
		s.addremove = true;
		s.anonymous = false;
		o = s.option(form.Flag, 'enabled', _('Enabled'));
		o.default = '1';
		o = s.option(form.DynamicList, 'device', _('Devices'), _('Names as Status → netmon → Devices shows them, or MACs.'));
		o = s.option(form.ListValue, 'period', _('Period'));
		o.value('month', _('billing month'));
		o.value('day', _('day'));
		o.default = 'month';
		o = s.option(form.Value, 'limit', _('Limit'), _('e.g. 500M, 20G'));
		o.rmempty = false;
		o = s.option(form.ListValue, 'direction', _('Direction'));
		o.value('total', _('download + upload'));
		o.value('down', _('download'));
		o.value('up', _('upload'));
		o.default = 'total';
		o = s.option(form.ListValue, 'action', _('Past the limit'));
		o.value('block mail', _('block and mail'));
		o.value('block', _('block'));
		o.value('mail', _('mail'));
		o.rmempty = false;

		return m.render();
	}
});
