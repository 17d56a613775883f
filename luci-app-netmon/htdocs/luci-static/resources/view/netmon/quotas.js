'use strict';
'require view';
'require fs';

// Status -> netmon -> Quotas: `netmon quota --format json`, one row per
// quota and device. Names are text nodes only (every E() child list is an
// array: LuCI sets a bare string child as innerHTML).
//
// Every fs.exec call is written as fs.exec('/usr/sbin/netmon', [ ... ]) on one
// line: tests/luci.sh reads the argv from these lines and checks that the
// ACL grants exactly them.

function bytes(n) {
	var units = [ 'B', 'KiB', 'MiB', 'GiB', 'TiB' ], i = 0;
	n = +n || 0;
	while (n >= 1024 && i < units.length - 1) {
		n /= 1024;
		i++;
	}
	return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
}

return view.extend({
	load: function() {
		return fs.exec('/usr/sbin/netmon', [ 'quota', '--format', 'json' ]).then(function(res) {
			if (res.code !== 0)
				throw new Error((res.stderr || '').trim() || 'netmon exited with ' + res.code);
			return JSON.parse(res.stdout);
		});
	},

	render: function(q) {
		var rows = (q.quotas || []).map(function(r) {
			var pct = r.limit ? Math.min(100, Math.round(r.used * 100 / r.limit)) : 0;
			return E('tr', { 'class': 'tr' + (r.cut ? ' netmon-cut' : '') }, [
				E('td', { 'class': 'td' }, [ r.quota ]),
				E('td', { 'class': 'td' }, [ r.name || r.mac ]),
				E('td', { 'class': 'td' }, [ r.mac ]),
				E('td', { 'class': 'td' }, [ r.period + ' / ' + r.direction ]),
				E('td', { 'class': 'td' }, [ bytes(r.used) + ' (' + pct + '%)' ]),
				E('td', { 'class': 'td' }, [ bytes(r.limit) ]),
				E('td', { 'class': 'td' }, [ bytes(r.remaining) ]),
				E('td', { 'class': 'td' }, [ String(r.days_left) ]),
				E('td', { 'class': 'td' }, [ bytes(r.per_day) ]),
				E('td', { 'class': 'td' }, [ r.cut ? _('cut off') : _('ok') ])
			]);
		});
		var titles = [ _('Quota'), _('Device'), _('MAC'), _('Period / direction'), _('Used'),
			_('Limit'), _('Remaining'), _('Days left'), _('Per day'), _('State') ];
		return E([], [
			E('h2', {}, [ _('netmon: quotas') ]),
			rows.length ? E('table', { 'class': 'table', 'id': 'netmon-quotas' }, [
				E('tr', { 'class': 'tr table-titles' }, titles.map(function(t) {
					return E('th', { 'class': 'th' }, [ t ]);
				}))
			].concat(rows)) : E('p', {}, [ _('No quota is configured (Services → netmon).') ])
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
