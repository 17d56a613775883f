'use strict';
'require view';
'require fs';
'require ui';

// Status -> netmon -> Devices: `netmon devices --format json` (this billing
// month, rates between the last two updates) with who is cut off now (`netmon blocked --format json`); a click
// on a column title sorts by it, Block/Unblock run `netmon block MAC
// [--for D]` / `netmon unblock MAC` as argv (fs.exec, no shell).
//
// Device names are chosen by whoever is on the LAN (DHCP host names): they
// are only ever put into the page as text nodes. LuCI's E()/dom.append turns
// the items of an ARRAY of children into text nodes but sets a bare string
// child as innerHTML, so every child list here is an array.
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

function json(res) {
	if (res.code !== 0)
		throw new Error((res.stderr || '').trim() || 'netmon exited with ' + res.code);
	return JSON.parse(res.stdout);
}

// Bytes a second between the last two updates (null before there were two).
function rate(n) {
	return n == null ? '-' : bytes(n) + '/s';
}

// Columns: title, value used for sorting, cell text.
var COLUMNS = [
	[ _('Name'), function(d) { return (d.name || '').toLowerCase(); }, function(d) { return d.other ? _('(other devices)') : (d.name || '-'); } ],
	[ _('MAC'), function(d) { return d.mac || ''; }, function(d) { return d.mac || _('other'); } ],
	[ _('IPv4'), function(d) { return d.ipv4 || ''; }, function(d) { return d.ipv4 || '-'; } ],
	[ _('IPv6'), function(d) { return d.ipv6 || ''; }, function(d) { return d.ipv6 || '-'; } ],
	[ _('Download'), function(d) { return d.download_bytes; }, function(d) { return bytes(d.download_bytes); } ],
	[ _('Upload'), function(d) { return d.upload_bytes; }, function(d) { return bytes(d.upload_bytes); } ],
	[ _('Total'), function(d) { return d.download_bytes + d.upload_bytes; }, function(d) { return bytes(d.download_bytes + d.upload_bytes); } ],
	[ _('Rate down'), function(d) { return d.download_bytes_per_second == null ? -1 : d.download_bytes_per_second; }, function(d) { return rate(d.download_bytes_per_second); } ],
	[ _('Rate up'), function(d) { return d.upload_bytes_per_second == null ? -1 : d.upload_bytes_per_second; }, function(d) { return rate(d.upload_bytes_per_second); } ]
];

return view.extend({
	sortBy: 6,
	descending: true,

	load: function() {
		return Promise.all([
			fs.exec('/usr/sbin/netmon', [ 'devices', '--format', 'json' ]).then(json),
			fs.exec('/usr/sbin/netmon', [ 'blocked', '--format', 'json' ]).then(json)
		]);
	},

	handleBlock: function(mac, ev) {
		var sel = document.getElementById('netmon-block-for'),
		    dur = sel ? sel.value : '',
		    run = dur
			? fs.exec('/usr/sbin/netmon', [ 'block', mac, '--for', dur ])
			: fs.exec('/usr/sbin/netmon', [ 'block', mac ]);
		return run.then(L.bind(this.afterAction, this));
	},

	handleUnblock: function(mac, ev) {
		return fs.exec('/usr/sbin/netmon', [ 'unblock', mac ]).then(L.bind(this.afterAction, this));
	},

	afterAction: function(res) {
		if (res.code !== 0)
			ui.addNotification(null, E('p', [ (res.stderr || '').trim() || _('netmon failed') ]), 'error');
		return this.refresh();
	},

	refresh: function() {
		return this.load().then(L.bind(function(data) {
			var old = document.getElementById('netmon-devices');
			if (old)
				old.parentNode.replaceChild(this.renderTable(data[0], data[1]), old);
		}, this));
	},

	handleSort: function(col, devs, blocked, ev) {
		this.descending = (this.sortBy === col) ? !this.descending : (col >= 4);
		this.sortBy = col;
		var old = document.getElementById('netmon-devices');
		old.parentNode.replaceChild(this.renderTable(devs, blocked), old);
	},

	renderTable: function(devs, blocked) {
		var cut = {};
		(blocked.blocked || []).forEach(function(b) { cut[b.mac] = b; });
		var key = COLUMNS[this.sortBy][1], sign = this.descending ? -1 : 1;
		var list = (devs.devices || []).slice().sort(function(a, b) {
			var x = key(a), y = key(b);
			return x < y ? -sign : x > y ? sign : 0;
		});
		var self = this;
		var titles = COLUMNS.map(function(c, i) {
			var mark = (i === self.sortBy) ? (self.descending ? ' ▼' : ' ▲') : '';
			return E('th', { 'class': 'th', 'style': 'cursor:pointer', 'data-col': i,
				'click': L.bind(self.handleSort, self, i, devs, blocked) }, [ c[0] + mark ]);
		});
		titles.push(E('th', { 'class': 'th' }, [ _('Access') ]));
		var rows = list.map(function(d) {
			var b = d.mac ? cut[d.mac] : null, action;
			if (!d.mac)
				action = E('em', [ _('devices that did not fit') ]);
			else if (b && b.reason === 'block')
				action = E('button', { 'class': 'btn cbi-button cbi-button-apply', 'data-action': 'unblock',
					'click': ui.createHandlerFn(self, 'handleUnblock', d.mac) }, [ _('Unblock') ]);
			else if (b)
				action = E('span', [ _('cut by quota') + ' ' + (b.quota || '') ]);
			else
				action = E('button', { 'class': 'btn cbi-button cbi-button-negative', 'data-action': 'block',
					'click': ui.createHandlerFn(self, 'handleBlock', d.mac) }, [ _('Block') ]);
			return E('tr', { 'class': 'tr' + (b ? ' netmon-cut' : '') }, COLUMNS.map(function(c) {
				return E('td', { 'class': 'td' }, [ c[2](d) ]);
			}).concat([ E('td', { 'class': 'td' }, [ action ]) ]));
		});
		return E('table', { 'class': 'table', 'id': 'netmon-devices' },
			[ E('tr', { 'class': 'tr table-titles' }, titles) ].concat(rows));
	},

	render: function(data) {
		return E([], [
			E('h2', {}, [ _('netmon: devices') ]),
			E('p', {}, [ _('Usage per LAN device this billing month. Click a column title to sort.') ]),
			E('p', {}, [
				_('Block for') + ' ',
				E('select', { 'id': 'netmon-block-for' }, [
					E('option', { 'value': '' }, [ _('until unblocked') ]),
					E('option', { 'value': '1h' }, [ _('1 hour') ]),
					E('option', { 'value': '1d' }, [ _('1 day') ])
				])
			]),
			this.renderTable(data[0], data[1])
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
