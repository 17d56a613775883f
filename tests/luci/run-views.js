// Runs every netmon view against fake-luci.js as LuCI would (load, then
// render the result), then what a user does on the devices page: sort by
// name, block a device. What happened is left in the page for
// tests/luci/check.py to read from Chromium's --dump-dom.
'use strict';

function note(id, text) {
	document.getElementById(id).appendChild(document.createTextNode(text + '\n'));
}

async function runView(name) {
	var v = NETMON_VIEWS[name](L, E, _, view, fs, ui, form, rpc);
	var data = await Promise.resolve(v.load ? v.load() : null);
	var node = await Promise.resolve(v.render(data));
	document.getElementById('view-' + name).appendChild(node);
	return v;
}

function names() {
	return Array.prototype.map.call(
		document.querySelectorAll('#netmon-devices tr.tr:not(.table-titles) td:first-child'),
		function(td) { return td.textContent; });
}

async function main() {
	for (var name of [ 'overview', 'quotas', 'settings', 'devices' ]) {
		try {
			await runView(name);
		} catch (e) {
			note('errors', name + ': ' + e);
		}
	}
	note('order-default', JSON.stringify(names()));
	var byName = document.querySelector('#netmon-devices th[data-col="0"]');
	byName.dispatchEvent(new MouseEvent('click'));
	note('order-by-name', JSON.stringify(names()));
	byName = document.querySelector('#netmon-devices th[data-col="0"]');
	byName.dispatchEvent(new MouseEvent('click'));
	note('order-by-name-again', JSON.stringify(names()));
	var before = NETMON_CALLS.length;
	var block = document.querySelector('#netmon-devices button[data-action="block"]');
	var unblock = document.querySelector('#netmon-devices button[data-action="unblock"]');
	if (block)
		await Promise.resolve(block.dispatchEvent(new MouseEvent('click')));
	if (unblock)
		unblock.dispatchEvent(new MouseEvent('click'));
	await new Promise(function(r) { setTimeout(r, 200); });
	note('actions', JSON.stringify(NETMON_CALLS.slice(before).filter(function(c) {
		return c[1] === 'block' || c[1] === 'unblock';
	})));
	note('calls', JSON.stringify(NETMON_CALLS));
	note('denied', JSON.stringify(NETMON_DENIED));
	// The control: the hostile name, its alert renamed, as a BARE string
	// child, which LuCI (and fake-luci.js) set as innerHTML. It must become
	// an <img> whose onerror runs, or this test could not tell escaped text
	// from markup that runs.
	document.getElementById('control').appendChild(E('span', {}, HOSTILE.replace('alert(1)', 'alert("control")')));
	await new Promise(function(r) { setTimeout(r, 500); });
	document.body.setAttribute('data-done', '1');
}

window.alert = function(msg) {
	note('alerts', String(msg));
};
window.addEventListener('error', function(e) {
	note('errors', String(e.message));
});
// A click handler's failure, if the browser reports it (a refused fs.exec
// is also listed in NETMON_DENIED).
window.addEventListener('unhandledrejection', function(e) {
	note('errors', 'unhandled: ' + e.reason);
});
main().catch(function(e) {
	note('errors', 'main: ' + e);
});
